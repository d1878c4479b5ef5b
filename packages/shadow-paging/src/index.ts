/** The package version, kept in step with package.json by a test. */
export const shadowPagingVersion = '0.0.0';
