// Verifies an access token as a Node resource server would, with panva's `jose`.
//
// Started by tests/live/test_interop.py: `node tests/oidc_provider/jose_verify.mjs` with
//   JWKS_URL, ISSUER, AUDIENCE   where the keys are and what the token must say
//   TOKENS                       JSON list of compact JWTs to verify, in order
// Prints one JSON line: a list of {"ok": true, "payload", "header"} or {"ok": false, "code"}.
// (It lives here because this folder's node_modules holds `jose`.)
import { createRemoteJWKSet, jwtVerify } from 'jose';

const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL));
const results = [];
for (const token of JSON.parse(process.env.TOKENS)) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: process.env.ISSUER,
      audience: process.env.AUDIENCE,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
    });
    results.push({ ok: true, payload, header: protectedHeader });
  } catch (error) {
    results.push({ ok: false, code: error.code ?? String(error) });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
