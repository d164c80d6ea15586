// Road-like paths: a vehicle drives along straight street segments between intersections laid
// out on its part of the city's grid (blocks of 80–350 m, longer arterials), turning left or
// right or going straight at each intersection. Far from its home area it prefers turns that
// lead back, so vehicles stay in town.
import type { Random } from '../../random.ts';
import type { Enu } from '../../world/geo.ts';

export interface RoadClass {
  readonly name: string;
  readonly limitKmh: number;
  readonly lengthM: readonly [number, number];
}

export const ROAD_CLASSES: Readonly<Record<'residential' | 'urban' | 'arterial', RoadClass>> = {
  residential: { name: 'residential', limitKmh: 30, lengthM: [80, 220] },
  urban: { name: 'urban', limitKmh: 50, lengthM: [120, 350] },
  arterial: { name: 'arterial', limitKmh: 70, lengthM: [300, 900] },
};

export interface Segment {
  readonly from: Enu;
  readonly to: Enu;
  readonly lengthM: number;
  /** Compass heading of travel, degrees. */
  readonly headingDeg: number;
  readonly road: RoadClass;
}

export type Turn = 'straight' | 'left' | 'right';

const RAD = Math.PI / 180;

export class RoadWalker {
  readonly #rng: Random;
  readonly #home: Enu;
  readonly #homeRadiusM: number;
  readonly #classMix: Readonly<Record<keyof typeof ROAD_CLASSES, number>>;
  #current: Segment;
  #upcoming: Segment;

  constructor(
    rng: Random,
    opts: {
      home: Enu;
      homeRadiusM: number;
      gridAngleDeg: number;
      classMix: Readonly<Record<keyof typeof ROAD_CLASSES, number>>;
    },
  ) {
    this.#rng = rng;
    this.#home = opts.home;
    this.#homeRadiusM = opts.homeRadiusM;
    this.#classMix = opts.classMix;
    const dist = opts.homeRadiusM * Math.sqrt(rng.float());
    const angle = rng.range(0, 2 * Math.PI);
    const start: Enu = { e: opts.home.e + dist * Math.sin(angle), n: opts.home.n + dist * Math.cos(angle) };
    const heading = (opts.gridAngleDeg + 90 * rng.int(0, 3)) % 360;
    this.#current = this.#segment(start, heading);
    this.#upcoming = this.#after(this.#current);
  }

  get current(): Segment {
    return this.#current;
  }

  /** The segment after the current one (already decided, so the driver can slow for the turn). */
  get upcoming(): Segment {
    return this.#upcoming;
  }

  /** Moves on to the upcoming segment and returns it. */
  advance(): Segment {
    this.#current = this.#upcoming;
    this.#upcoming = this.#after(this.#current);
    return this.#current;
  }

  #segment(from: Enu, headingDeg: number): Segment {
    const road = ROAD_CLASSES[this.#rng.weighted(this.#classMix)];
    const lengthM = this.#rng.range(road.lengthM[0], road.lengthM[1]);
    const to: Enu = {
      e: from.e + lengthM * Math.sin(headingDeg * RAD),
      n: from.n + lengthM * Math.cos(headingDeg * RAD),
    };
    return { from, to, lengthM, headingDeg, road };
  }

  #after(seg: Segment): Segment {
    const options: Array<[Turn, number]> = [
      ['straight', 0],
      ['left', -90],
      ['right', 90],
    ];
    const weights: Record<Turn, number> = { straight: 6, left: 2, right: 2 };
    const away = { e: seg.to.e - this.#home.e, n: seg.to.n - this.#home.n };
    const far = Math.hypot(away.e, away.n) > this.#homeRadiusM;
    if (far) {
      for (const [turn, delta] of options) {
        const h = (seg.headingDeg + delta) * RAD;
        const outward = Math.sin(h) * away.e + Math.cos(h) * away.n;
        weights[turn] *= outward < 0 ? 4 : 0.25;
      }
    }
    const turn = this.#rng.weighted(weights);
    const delta = options.find(([t]) => t === turn)![1];
    return this.#segment(seg.to, (seg.headingDeg + delta + 360) % 360);
  }
}
