import { geoAlbersUsa, geoPath } from 'd3-geo';
import { feature, mesh } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import states from 'us-atlas/states-10m.json';

/**
 * The lower 48, Alaska and Hawaii as an SVG drawn from the Census state outlines bundled with the
 * dashboard (us-atlas), projected with Albers USA: no tile server, nothing fetched at run time.
 */
const WIDTH = 975;
const HEIGHT = 610;
const SVG = 'http://www.w3.org/2000/svg';
const projection = geoAlbersUsa().scale(1300).translate([487.5, 305]);
const path = geoPath(projection);
const topology = states as unknown as Topology<{ states: GeometryCollection; nation: GeometryCollection }>;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export type MarkerKind = 'origin' | 'destination' | 'truck';

/** A map with named markers that can move, and a track line. */
export class UsMap {
  readonly element: SVGSVGElement;
  private readonly markers = new Map<string, SVGGElement>();
  private readonly track: SVGPathElement;
  private readonly layer: SVGGElement;

  constructor(label: string) {
    this.element = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'map', role: 'img', 'aria-label': label });
    const land = svg('g', { class: 'states' });
    for (const f of feature(topology, topology.objects.states).features) {
      const d = path(f);
      if (d) land.append(svg('path', { d, 'data-state': String((f.properties as { name?: string })?.name ?? '') }));
    }
    const borders = path(mesh(topology, topology.objects.states, (a, b) => a !== b));
    this.element.append(land, svg('path', { class: 'borders', d: borders ?? '' }));
    this.track = svg('path', { class: 'track', d: '' });
    this.layer = svg('g', { class: 'markers' });
    this.element.append(this.track, this.layer);
  }

  /** Screen coordinates of a point, or undefined outside the projection (e.g. off the US). */
  static project(lat: number, lng: number): [number, number] | undefined {
    return projection([lng, lat]) ?? undefined;
  }

  /** Places (or moves) a marker; a point the projection cannot show hides it. */
  mark(id: string, kind: MarkerKind, lat: number, lng: number, title: string): void {
    const xy = UsMap.project(lat, lng);
    let g = this.markers.get(id);
    if (!g) {
      g = svg('g', { class: `marker ${kind}`, 'data-marker': id });
      g.append(svg('circle', { r: kind === 'truck' ? 8 : 6 }), svg('title', {}));
      this.layer.append(g);
      this.markers.set(id, g);
    }
    g.querySelector('title')!.textContent = title;
    if (!xy) {
      g.setAttribute('visibility', 'hidden');
      return;
    }
    g.removeAttribute('visibility');
    g.setAttribute('transform', `translate(${xy[0].toFixed(1)},${xy[1].toFixed(1)})`);
    g.dataset.lat = String(lat);
    g.dataset.lng = String(lng);
  }

  unmark(id: string): void {
    this.markers.get(id)?.remove();
    this.markers.delete(id);
  }

  clear(): void {
    for (const id of [...this.markers.keys()]) this.unmark(id);
    this.setTrack([]);
  }

  /** The truck's path so far, oldest first. */
  setTrack(points: readonly { lat: number; lng: number }[]): void {
    const xy = points.map((p) => UsMap.project(p.lat, p.lng)).filter((p): p is [number, number] => !!p);
    this.track.setAttribute(
      'd',
      xy.length > 1 ? `M${xy.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join('L')}` : '',
    );
  }

  extendTrack(lat: number, lng: number): void {
    const xy = UsMap.project(lat, lng);
    if (!xy) return;
    const d = this.track.getAttribute('d') ?? '';
    this.track.setAttribute('d', `${d ? `${d}L` : 'M'}${xy[0].toFixed(1)},${xy[1].toFixed(1)}`);
  }
}
