/**
 * The player SDK as pages load it: one ESM file each (esbuild, minified), with no import left (no runtime
 * dependency), small enough to add to any player (the goal: under 8 KB minified and gzipped), and working as built:
 * the file is imported in Node and its exports are there.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SDK_BUNDLES, type SdkBundle, sdkBundle } from '../../local/sdk-bundle.js';

const GOAL_BYTES = 8 * 1024;

describe('the SDK bundles', () => {
  it.each(Object.keys(SDK_BUNDLES) as SdkBundle[])('%s: one self-contained file, under 8 KB gzipped', async (name) => {
    // Act
    const code = await sdkBundle(name);
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.info(`${name}: ${code.length} bytes minified, ${gzipped} bytes minified and gzipped`);

    // Assess
    expect(code).not.toMatch(/\bimport\s*[{*"'(]|\brequire\(/);
    expect(gzipped).toBeLessThan(GOAL_BYTES);
    const loaded = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
    expect(typeof loaded.openStream).toBe('function');
    expect(typeof loaded.listStreams).toBe('function');
    expect(typeof loaded.endStream).toBe('function');
    if (name === 'streamgate-videojs.js') expect(typeof loaded.limitPlayer).toBe('function');
  });
});
