// Writes src/api.ts, the API's types (types only: it compiles to an empty module), from the committed openapi.json.
// `npm run generate` after `make openapi`; test/types.test.mjs fails while it is stale.
import { writeFile } from 'node:fs/promises';
import { generatedTypes, TYPES_FILE } from './types.mjs';

await writeFile(TYPES_FILE, await generatedTypes());
console.log(`wrote ${TYPES_FILE.pathname}`);
