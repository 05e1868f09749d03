// The Vite dev server serves the SPA and proxies the API's paths, so that the page
// and the API are one origin (README.md in this folder says why, and what to set).
import { defineConfig } from 'vite';

const target = process.env.AUTHAPI_URL ?? 'http://127.0.0.1:8000';
// changeOrigin: false (the shorthand `'/auth': target` would turn it on): the API then
// sees the browser's own Host (this dev server's) and, as always, its Origin header
// untouched, which its CSRF check compares with AUTHAPI_PUBLIC_URL's origin.
// No xfwd: no X-Forwarded-* headers are added.
const api = { target, changeOrigin: false };

export default defineConfig({
  server: {
    port: 5173,
    // on another port the page's origin would not be AUTHAPI_PUBLIC_URL's: refuse instead
    strictPort: true,
    proxy: {
      '/auth': api, // login, refresh (the cookie's Path=/auth), logout, provider callbacks
      '/users': api,
      '/.well-known': api,
      '/account': api, // the built-in pages, where emailed links open
    },
  },
});
