/**
 * The order in which resources can be created: every resource after the resources its properties
 * reference (`Ref`, `Fn::GetAtt`, `${...}` in `Fn::Sub`) and those in its `DependsOn`.
 */
import { isRecord } from '../../lib/job/model.js';
import { TemplateError, type CfnResource, type CfnTemplate } from './model.js';

/** Logical ids of the resources that `value` references (parameters and pseudo parameters excluded). */
export function referencedResources(value: unknown, resources: ReadonlyMap<string, unknown>): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isRecord(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'Ref' && typeof child === 'string') {
        if (resources.has(child)) found.add(child);
      } else if (key === 'Fn::GetAtt') {
        const target = typeof child === 'string' ? child.split('.')[0] : Array.isArray(child) ? child[0] : undefined;
        if (typeof target === 'string' && resources.has(target)) found.add(target);
      } else if (key === 'Fn::Sub') {
        const text = typeof child === 'string' ? child : Array.isArray(child) && typeof child[0] === 'string' ? child[0] : '';
        for (const match of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const name = (match[1] ?? '').split('.')[0] ?? '';
          if (resources.has(name)) found.add(name);
        }
      }
      visit(child);
    }
  };
  visit(value);
  return found;
}

/**
 * Resources in an order where each comes after everything it depends on. Ties keep template order,
 * so the result is stable.
 *
 * @throws TemplateError when a DependsOn names a missing resource or the references form a cycle.
 */
export function creationOrder(template: CfnTemplate): CfnResource[] {
  const { resources } = template;
  const dependencies = new Map<string, Set<string>>();
  for (const resource of resources.values()) {
    const deps = referencedResources(resource.properties, resources);
    for (const dependency of resource.dependsOn) {
      if (!resources.has(dependency)) {
        throw new TemplateError(resource.logicalId, resource.type, `DependsOn names ${dependency}, which is not a resource of the template`);
      }
      deps.add(dependency);
    }
    deps.delete(resource.logicalId);
    dependencies.set(resource.logicalId, deps);
  }
  const ordered: CfnResource[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (resource: CfnResource, trail: readonly string[]): void => {
    const seen = state.get(resource.logicalId);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(resource.logicalId)), resource.logicalId].join(' -> ');
      throw new TemplateError(resource.logicalId, resource.type, `its references form a cycle: ${cycle}`);
    }
    state.set(resource.logicalId, 'visiting');
    for (const dependency of dependencies.get(resource.logicalId) ?? []) {
      const next = resources.get(dependency);
      if (next !== undefined) visit(next, [...trail, resource.logicalId]);
    }
    state.set(resource.logicalId, 'done');
    ordered.push(resource);
  };
  for (const resource of resources.values()) visit(resource, []);
  return ordered;
}
