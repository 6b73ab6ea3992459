// `npm run config:docs`: regenerates the configuration reference inside README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { builtInAppSettings } from '../core/plugins/registry.ts';
import { withReference } from './reference.ts';

const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withReference(readFileSync(readme, 'utf8'), builtInAppSettings()));
process.stdout.write('README.md configuration reference updated.\n');
