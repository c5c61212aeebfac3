/** A typed key for one plugin's API that other plugins use (`requires: [CachixKey]`). */
export interface Key<T> { readonly id: string; readonly __type?: T }

export function createKey<T>(id: string): Key<T> {
  return { id } as Key<T>
}
