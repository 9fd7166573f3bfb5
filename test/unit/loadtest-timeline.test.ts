import { describe, expect, it } from 'vitest';
import { Timeline } from '../../tools/loadtest/timeline.js';

describe('Timeline', () => {
  it('counts per second, carries held over quiet seconds and gives the admitted p50/p99 of each second', () => {
    // Prepare
    const timeline = new Timeline();
    for (let i = 1; i <= 100; i++) {
      timeline.attempt(10);
      timeline.admitted(20 + i, i);
    }
    timeline.held(900, 100);
    timeline.refused(1500);
    timeline.error(1600);
    timeline.takeover(2100);
    timeline.held(3100, 40);

    // Act
    const seconds = timeline.seconds(4500);

    // Assess
    expect(seconds).toEqual([
      { t: 0, attempts: 100, admitted: 100, refused: 0, errors: 0, takeovers: 0, held: 100, p50: 50, p99: 99 },
      { t: 1, attempts: 0, admitted: 0, refused: 1, errors: 1, takeovers: 0, held: 100, p50: null, p99: null },
      { t: 2, attempts: 0, admitted: 0, refused: 0, errors: 0, takeovers: 1, held: 100, p50: null, p99: null },
      { t: 3, attempts: 0, admitted: 0, refused: 0, errors: 0, takeovers: 0, held: 40, p50: null, p99: null },
      { t: 4, attempts: 0, admitted: 0, refused: 0, errors: 0, takeovers: 0, held: 40, p50: null, p99: null },
    ]);
  });
});
