// Writes src/api.d.ts, the API's types, from the committed openapi.json.
// `npm run generate` after `make openapi`; test/types.test.mjs fails while it is stale.
import { writeFile } from 'node:fs/promises';
import { generatedTypes, TYPES_FILE } from './types.mjs';

await writeFile(TYPES_FILE, await generatedTypes());
console.log(`wrote ${TYPES_FILE.pathname}`);
