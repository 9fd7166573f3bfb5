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

const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  // Sent as text: tsx's helpers (`__name`) do not exist in the page.
  const base64 = await page.evaluate<string>(`(${RECORD})(${SECONDS})`);
  writeFileSync(OUT, Buffer.from(base64, 'base64'));
  console.log(`wrote ${OUT} (${Buffer.from(base64, 'base64').length} bytes)`);
} finally {
  await browser.close();
}
