// A real OpenID provider (panva/oidc-provider, OpenID-certified) for the authapi tests.
//
// Started by tests/oidc.py: `node tests/oidc_provider/server.mjs` with
//   OIDC_CLIENTS  JSON [{client_id, client_secret?, redirect_uris}] (no secret: a native app)
//   OIDC_JWKS     JSON {"keys": [private RSA JWK with kid, alg RS256, use sig]}
//   OIDC_CONFORM_ID_TOKEN_CLAIMS  "true" (default): the id_token carries sub (and protocol
//                 claims) only, scope claims come from userinfo; "false": scope claims (email,
//                 email_verified, name) in the id_token too, as Google does.
//   OIDC_ISSUER_TRAILING_SLASH  "true": the issuer is spelt with a final "/" (as Auth0's are).
// Listens on 127.0.0.1 (a free port) and prints one line to stdout when ready:
//   {"issuer": "http://127.0.0.1:<port>"}
// Everything else it says goes to stderr.
//
// Test-only routes (never part of a real provider):
//   PUT  /test/users/:sub       JSON claims of that account → 204
//   PUT  /test/tamper           {"claims": {...}, "sign_with": "provider"|"foreign", "kid"?} → 204;
//                               rewrites the id_token of the next successful POST /token once
//   GET  /test/requests         {"<path>": count} of the requests the provider answered, e.g.
//                               "/.well-known/openid-configuration", "/jwks", "/token", "/me",
//                               "/auth"; per-interaction paths as "/auth/:uid", "/interaction/:uid"
//   POST /test/requests/reset   → 204
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

// oidc-provider prints its notices with console.info (stdout): stdout is the ready line only.
console.log = console.error;
console.info = console.error;

const { default: Provider } = await import('oidc-provider');
const jose = await import('jose');

// a client without a secret is a native app's (public: PKCE only, no client authentication)
const clients = JSON.parse(process.env.OIDC_CLIENTS ?? '[]').map((client) => ({
  client_id: client.client_id,
  ...(client.client_secret ? { client_secret: client.client_secret } : {}),
  redirect_uris: client.redirect_uris,
  token_endpoint_auth_method: client.client_secret ? 'client_secret_basic' : 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
}));
const jwks = JSON.parse(process.env.OIDC_JWKS ?? 'null');
if (!jwks?.keys?.length) {
  throw new Error('OIDC_JWKS must hold {"keys": [a private RSA JWK]}');
}
const signingJwk = jwks.keys[0];
const conformIdTokenClaims = (process.env.OIDC_CONFORM_ID_TOKEN_CLAIMS ?? 'true') !== 'false';

const users = new Map(); // sub → claims
const requestCounts = {}; // path → count
let pendingTamper = null;

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

async function tamperedIdToken(idToken, tamper) {
  const header = jose.decodeProtectedHeader(idToken);
  const payload = jose.decodeJwt(idToken);
  for (const [name, value] of Object.entries(tamper.claims ?? {})) {
    if (value === null) {
      delete payload[name];
    } else {
      payload[name] = value;
    }
  }
  let key;
  if (tamper.sign_with === 'foreign') {
    ({ privateKey: key } = await jose.generateKeyPair('RS256', { modulusLength: 2048 }));
  } else if ((tamper.sign_with ?? 'provider') === 'provider') {
    key = await jose.importJWK(signingJwk, 'RS256');
  } else {
    throw new Error(`sign_with must be "provider" or "foreign", not ${tamper.sign_with}`);
  }
  const protectedHeader = { ...header, alg: 'RS256', kid: tamper.kid ?? signingJwk.kid };
  return new jose.SignJWT(payload).setProtectedHeader(protectedHeader).sign(key);
}

async function testRoutes(ctx, next) {
  const { method, path } = ctx;
  if (!path.startsWith('/test/')) {
    const route = path
      .replace(/^\/interaction\/[^/]+/, '/interaction/:uid')
      .replace(/^\/auth\/[^/]+$/, '/auth/:uid');
    requestCounts[route] = (requestCounts[route] ?? 0) + 1;
    await next();
    if (pendingTamper && path === '/token' && method === 'POST' && ctx.status === 200
        && ctx.body && typeof ctx.body.id_token === 'string') {
      const tamper = pendingTamper;
      pendingTamper = null;
      ctx.body = { ...ctx.body, id_token: await tamperedIdToken(ctx.body.id_token, tamper) };
    }
    return;
  }
  const user = path.match(/^\/test\/users\/([^/]+)$/);
  if (user && method === 'PUT') {
    users.set(decodeURIComponent(user[1]), await readJson(ctx));
    ctx.status = 204;
  } else if (path === '/test/tamper' && method === 'PUT') {
    const tamper = await readJson(ctx);
    if (!['provider', 'foreign', undefined].includes(tamper.sign_with)) {
      ctx.throw(400, 'sign_with must be "provider" or "foreign"');
    }
    pendingTamper = tamper;
    ctx.status = 204;
  } else if (path === '/test/requests' && method === 'GET') {
    ctx.body = requestCounts;
  } else if (path === '/test/requests/reset' && method === 'POST') {
    for (const name of Object.keys(requestCounts)) {
      delete requestCounts[name];
    }
    ctx.status = 204;
  } else {
    ctx.status = 404;
  }
}

const server = createServer();
server.listen(0, '127.0.0.1');
await new Promise((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});
const slash = process.env.OIDC_ISSUER_TRAILING_SLASH === 'true' ? '/' : '';
const issuer = `http://127.0.0.1:${server.address().port}${slash}`;

const provider = new Provider(issuer, {
  clients,
  jwks,
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  conformIdTokenClaims,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { ...(users.get(id) ?? {}), sub: id };
      },
    };
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: { devInteractions: { enabled: true } },
});
provider.use(testRoutes);
server.on('request', provider.callback());

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
