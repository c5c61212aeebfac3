/** A Nix string literal (JSON escapes plus `\${`; control characters other than \n\r\t are dropped). */
export function nixString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')).replace(/\$\{/g, '\\${')
}

/** A Nix list literal of string lists: `[ [ "a" "b" ] [ "c" ] ]`. */
export function nixPathList(paths: readonly (readonly string[])[]): string {
  return `[ ${paths.map((p) => `[ ${p.map(nixString).join(' ')} ]`).join(' ')} ]`
}

const SYSTEM_FILTER = (systems: readonly string[] | undefined): string =>
  systems ? `(builtins.intersectAttrs (builtins.listToAttrs (map (s: { name = s; value = null; }) [ ${systems.map(nixString).join(' ')} ])) a)` : 'a'

/**
 * Lists `<system>.<name>` of a system-keyed attribute without forcing the leaves. A system
 * whose set fails with a catchable error maps to null.
 */
export function listSystemKeyedExpr(systems: readonly string[] | undefined): string {
  return `a: builtins.mapAttrs (s: v: let r = builtins.tryEval (builtins.attrNames v); in if r.success then r.value else null) ${SYSTEM_FILTER(systems)}`
}

/**
 * Walks an attribute like `nix-eval-jobs --force-recurse`: derivations become "d", sets that are
 * not derivations are entered (to `maxDepth`), values failing with a catchable error become
 * "e", anything else null. A derivation at the root gives "d".
 */
export function walkExpr(maxDepth: number): string {
  return `root: let
  kind = c: if builtins.isAttrs c then (if (c.type or null) == "derivation" then 1 else 2) else 0;
  walk = depth: v: builtins.mapAttrs (n: c: let r = builtins.tryEval (kind c); in
    if !r.success then "e" else if r.value == 1 then "d" else if r.value == 2 && depth < ${maxDepth} then walk (depth + 1) c else null) v;
  top = builtins.tryEval (kind root);
in if !top.success then "e" else if top.value == 1 then "d" else if top.value == 2 then walk 1 root else null`
}

/** Lazily lists the names of the attribute set at `path`. */
export function attrNamesAtExpr(path: readonly string[]): string {
  return `root: builtins.attrNames (builtins.foldl' (a: n: a.\${n}) root [ ${path.map(nixString).join(' ')} ])`
}

/** Walks the value at `path` (for evaluating one subtree in its own process). */
export function walkAtExpr(path: readonly string[], maxDepth: number): string {
  return `root: (${walkExpr(maxDepth)}) (builtins.foldl' (a: n: a.\${n}) root [ ${path.map(nixString).join(' ')} ])`
}

/**
 * Evaluates drvPath, name, system and outputs of every path. With `catchErrors`, an attribute
 * failing with a catchable error (throw, assert) becomes `{ failed = true; }`; without it the
 * first error ends the process, so its stderr carries the message.
 */
export function shardExpr(paths: readonly (readonly string[])[], catchErrors: boolean): string {
  const one = catchErrors
    ? 'p: let v = info (get p); r = builtins.tryEval (builtins.deepSeq v v); in if r.success then r.value else { failed = true; }'
    : 'p: let v = info (get p); in builtins.deepSeq v v'
  return `root: let
  get = p: builtins.foldl' (a: n: a.\${n}) root p;
  info = d: if (d.type or null) != "derivation" then { notDrv = true; } else {
    drvPath = d.drvPath; name = d.name; system = d.system;
    outputs = builtins.listToAttrs (map (o: { name = o; value = d.\${o}.outPath; }) (d.outputs or [ "out" ]));
  };
in map (${one}) ${nixPathList(paths)}`
}
