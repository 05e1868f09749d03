// The API's TypeScript types as openapi-typescript renders them from ../../openapi.json.
import openapiTS, { astToString } from 'openapi-typescript';

export const OPENAPI = new URL('../../../openapi.json', import.meta.url);
export const TYPES_FILE = new URL('../src/api.ts', import.meta.url);

export async function generatedTypes() {
  const header = '// Generated from openapi.json by `npm run generate`: do not edit.\n';
  return header + astToString(await openapiTS(OPENAPI));
}
