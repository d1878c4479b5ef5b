/** The package version, kept in step with package.json by a test. */
export const vmmVersion = '0.0.0';
