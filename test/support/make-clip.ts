/**
 * Makes the short test clip the video.js page plays (`web/watch/clip.webm`): a moving bar and a frame counter drawn on
 * a canvas in headless Chromium, recorded with MediaRecorder as VP8 WebM (an open codec Debian's Chromium plays).
 * Run once with `npx tsx test/support/make-clip.ts`; the clip is committed, so tests never need a video encoder.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from './browser.js';

const SECONDS = Number(process.argv[2] ?? 12);
const OUT = fileURLToPath(new URL('../../web/watch/clip.webm', import.meta.url));

/** Runs in the page: draws for `seconds`, records, and returns the WebM as base64. */
const RECORD = `async (seconds) => {
  const canvas = document.createElement('canvas');
  canvas.width = 320;
  canvas.height = 180;
  const g = canvas.getContext('2d');
  const recorder = new MediaRecorder(canvas.captureStream(15), {
    mimeType: 'video/webm;codecs=vp8',
    videoBitsPerSecond: 120000,
  });
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  recorder.start(1000);
  const start = performance.now();
  await new Promise((done) => {
    const draw = () => {
      const t = (performance.now() - start) / 1000;
      g.fillStyle = '#123';
      g.fillRect(0, 0, 320, 180);
      g.fillStyle = '#4c9';
      g.fillRect(((t * 80) % 360) - 40, 60, 40, 60);
      g.fillStyle = '#fff';
      g.font = '20px sans-serif';
      g.fillText('streamgate test clip ' + t.toFixed(1) + ' s', 10, 30);
      if (t < seconds) setTimeout(draw, 1000 / 15);
      else done();
    };
    draw();
  });
  recorder.stop();
  await stopped;
  const bytes = new Uint8Array(await new Blob(chunks, { type: 'video/webm' }).arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}`;

/**
 * MediaRecorder writes no duration (it cannot know it while recording), so players show the clip as live. The
 * duration goes into the segment's Info element (EBML id 0x1549A966) as its Duration child (0x4489, a float of
 * TimecodeScale units: milliseconds at MediaRecorder's 1,000,000 ns). The segment's size is "unknown" and nothing
 * points at a byte offset, so growing Info moves nothing that is referred to.
 */
function withDuration(webm: Buffer, durationMs: number): Buffer {
  const info = webm.indexOf(Buffer.from([0x15, 0x49, 0xa9, 0x66]));
  if (info < 0) throw new Error('no Info element in the recording');
  const first = webm[info + 4]!;
  const sizeLength = Math.clz32(first) - 23; // an EBML size's length is its first byte's leading zeros, plus one
  let size = first & (0xff >> sizeLength);
  for (let i = 1; i < sizeLength; i++) size = size * 256 + webm[info + 4 + i]!;
  const bodyStart = info + 4 + sizeLength;
  const duration = Buffer.alloc(11);
  duration.writeUInt16BE(0x4489, 0);
  duration[2] = 0x88; // size: 8 bytes
  duration.writeDoubleBE(durationMs, 3);
  const body = Buffer.concat([webm.subarray(bodyStart, bodyStart + size), duration]);
  const newSize = Buffer.alloc(8);
  newSize.writeBigUInt64BE(BigInt(body.length) | (1n << 56n)); // an 8-byte EBML size
  return Buffer.concat([webm.subarray(0, info + 4), newSize, body, webm.subarray(bodyStart + size)]);
}

const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  // Sent as text: tsx's helpers (`__name`) do not exist in the page.
  const base64 = await page.evaluate<string>(`(${RECORD})(${SECONDS})`);
  const clip = withDuration(Buffer.from(base64, 'base64'), SECONDS * 1000);
  writeFileSync(OUT, clip);
  console.log(`wrote ${OUT} (${clip.length} bytes)`);
} finally {
  await browser.close();
}
