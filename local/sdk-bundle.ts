/**
 * The player SDK (`client/`) built to one ESM file with esbuild, as a page loads it: `streamgate.js` (the SDK) and
 * `streamgate-videojs.js` (the SDK with the video.js adapter; video.js itself is the page's). The local stack serves
 * both beside its pages, the CDK app uploads them with the player page, and a test reports their size.
 */

import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, buildSync } from 'esbuild';

export const SDK_BUNDLES = {
  'streamgate.js': 'client/index.ts',
  'streamgate-videojs.js': 'client/videojs.ts',
} as const;

export type SdkBundle = keyof typeof SDK_BUNDLES;

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const options = (bundle: SdkBundle, minify: boolean): BuildOptions => ({
  absWorkingDir: ROOT,
  entryPoints: [SDK_BUNDLES[bundle]],
  bundle: true,
  format: 'esm',
  // Every browser with WebSocket, fetch and private class fields; Node 20 too.
  target: ['es2022'],
  platform: 'neutral',
  minify,
  legalComments: 'none',
  write: false,
});

const built = new Map<string, Promise<string>>();

/** The bundle's code (minified unless asked otherwise), built once per process. */
export function sdkBundle(bundle: SdkBundle, { minify = true } = {}): Promise<string> {
  const key = `${bundle}:${minify}`;
  let code = built.get(key);
  if (!code) {
    code = build(options(bundle, minify)).then((result) => result.outputFiles?.[0]?.text ?? '');
    // A failed build is not kept: the next request tries again.
    code.catch(() => built.delete(key));
    built.set(key, code);
  }
  return code;
}

/** The same, at once: for `cdk synth`, which is synchronous. */
export function sdkBundleSync(bundle: SdkBundle): string {
  return buildSync(options(bundle, true)).outputFiles?.[0]?.text ?? '';
}
