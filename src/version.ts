// The package version, kept here so the CLI and the wire protocol agree on it.
export const VERSION = '0.1.0';
