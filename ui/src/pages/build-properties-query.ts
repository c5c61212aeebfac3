/** Build properties the project pages read, requested with `property=` on build lists. */
export const BRANCH_PROPERTIES = ['branch', 'event', 'pr_number', 'nix_attribute', 'default_branch', 'project', 'revision', 'got_revision']
  .map((p) => `property=${p}`).join('&')
