// Regenerates schemas/README.md from the .avsc files.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderSchemaDocs } from './schemas/docs.ts';
import { SCHEMAS_DIR } from './schemas/history.ts';

writeFileSync(path.join(SCHEMAS_DIR, 'README.md'), renderSchemaDocs());
