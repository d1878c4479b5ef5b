/** The package version, kept in step with package.json by a test. */
export const x86Version = '0.0.0';
