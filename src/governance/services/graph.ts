/**
 * Start-up order from declared dependencies: a depth-first topological sort that keeps declaration order
 * wherever the dependencies allow it. A missing dependency or a cycle is an error naming the services
 * involved, raised before anything is started.
 */
import { ValidationError } from '../../errors.js';
import { DependencyCycleError, MissingDependencyError } from '../errors.js';

export interface DependencyAccessors<T> {
  /** The item's unique name. */
  readonly name: (item: T) => string;
  /** The names of the items it needs started first. */
  readonly dependsOn: (item: T) => readonly string[];
}

const WHITE = 0;
const GREY = 1;
const BLACK = 2;

/**
 * Orders `items` so that every item comes after everything it depends on; items with no ordering
 * constraint keep their declaration order. Throws `ValidationError` for a duplicate name,
 * `MissingDependencyError` listing every undeclared dependency, or `DependencyCycleError` with the
 * cycle's path (`a → b → a`). Works for services and for supervisor child specs alike.
 */
export function orderByDependencies<T>(items: readonly T[], accessors: DependencyAccessors<T>): T[] {
  const byName = new Map<string, T>();
  for (const item of items) {
    const name = accessors.name(item);
    if (byName.has(name)) throw new ValidationError(`two services are named ${name}`, { service: name });
    byName.set(name, item);
  }
  const missing: Array<{ service: string; dependency: string }> = [];
  for (const item of items) {
    for (const dependency of accessors.dependsOn(item)) {
      if (!byName.has(dependency)) missing.push({ service: accessors.name(item), dependency });
    }
  }
  if (missing.length > 0) throw new MissingDependencyError(missing);

  const colour = new Map<string, number>();
  const ordered: T[] = [];
  const path: string[] = [];
  const visit = (name: string): void => {
    const c = colour.get(name) ?? WHITE;
    if (c === BLACK) return;
    if (c === GREY) throw new DependencyCycleError([...path.slice(path.indexOf(name)), name]);
    colour.set(name, GREY);
    path.push(name);
    const item = byName.get(name) as T;
    for (const dependency of accessors.dependsOn(item)) visit(dependency);
    path.pop();
    colour.set(name, BLACK);
    ordered.push(item);
  };
  for (const item of items) visit(accessors.name(item));
  return ordered;
}
