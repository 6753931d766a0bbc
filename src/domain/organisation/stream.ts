/** Where an organisation's events live: one stream per organisation, `organisation-<id>`. Everyone else names it through here. */
export const ORGANISATION_STREAM = 'organisation-';
export const organisationStream = (orgId: string) => `${ORGANISATION_STREAM}${orgId}`;
/** The organisation's id in one of its stream's ids. */
export const orgIdOf = (streamId: string) => streamId.slice(ORGANISATION_STREAM.length);
