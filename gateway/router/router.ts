// The router: first route whose pattern matches a topic wins. Routes are tried in config order.
import { matchLevels, type TopicPattern } from './pattern.ts';

export interface RouteMatch<R> {
  readonly route: R;
  /** Named segment name → value taken from the topic. */
  readonly segments: Record<string, string>;
}

export class Router<R extends { readonly pattern: TopicPattern }> {
  readonly #routes: readonly R[];

  constructor(routes: readonly R[]) {
    this.#routes = routes;
  }

  match(topic: string): RouteMatch<R> | null {
    const levels = topic.split('/');
    for (const route of this.#routes) {
      const captured = matchLevels(route.pattern, levels);
      if (captured === null) continue;
      const segments: Record<string, string> = {};
      const names = route.pattern.names;
      for (let i = 0; i < names.length; i++) segments[names[i]!] = captured[i]!;
      return { route, segments };
    }
    return null;
  }
}
