/**
 * @authapi/client: the browser half of authapi.
 *
 *     import { AuthClient } from '@authapi/client';
 *     const auth = new AuthClient({ baseUrl: '' }); // same site as the page (README)
 *     await auth.restore();                         // a session from the cookie, if any
 *     const response = await auth.fetch('/users/me');
 */
export { AuthClient, authenticationToJSON, base64urlToBuffer, bufferToBase64url, creationOptionsFromJSON, registrationToJSON, requestOptionsFromJSON, } from './client.js';
export { AuthError } from './errors.js';
