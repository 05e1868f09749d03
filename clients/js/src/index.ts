/**
 * @authapi/client: the browser half of authapi.
 *
 *     import { AuthClient } from '@authapi/client';
 *     const auth = new AuthClient({ baseUrl: '' }); // same site as the page (README)
 *     await auth.restore();                         // a session from the cookie, if any
 *     const response = await auth.fetch('/users/me');
 */

export type { components, operations, paths } from './api.js';
export {
  AuthClient,
  type AuthClientOptions,
  type AuthEvent,
  type AuthenticationResponseJSON,
  authenticationToJSON,
  base64urlToBuffer,
  bufferToBase64url,
  creationOptionsFromJSON,
  type MfaStep,
  type Passkey,
  type PasskeyCredentials,
  type PasskeySignInOptions,
  type Provider,
  type ProviderReturn,
  type RegistrationResponseJSON,
  registrationToJSON,
  requestOptionsFromJSON,
  type SignInResult,
} from './client.js';
export { AuthError } from './errors.js';
export type { Channel, Clock, Locks, TabMessage } from './tabs.js';
