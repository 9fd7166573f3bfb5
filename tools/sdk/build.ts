/**
 * `npm run build:sdk [-- DIR]`: the player SDK's bundles (`streamgate.js`, `streamgate-videojs.js`) written to DIR
 * (`dist/` by default) for a team that ships them with its own player, with their sizes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SDK_BUNDLES, type SdkBundle, sdkBundle } from '../../local/sdk-bundle.js';

const dir = resolve(process.argv[2] ?? 'dist');
mkdirSync(dir, { recursive: true });
for (const name of Object.keys(SDK_BUNDLES) as SdkBundle[]) {
  const code = await sdkBundle(name);
  writeFileSync(join(dir, name), code);
  console.log(`${join(dir, name)}: ${code.length} bytes, ${gzipSync(code, { level: 9 }).length} gzipped`);
}
