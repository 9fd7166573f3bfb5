/** Names the user pool and the tools that administer it share (no CDK here: `npm run aws:user` loads this). */

/** The group whose members are support staff (`cognito:groups` in their tokens). */
export const STAFF_GROUP = 'staff';
/** The user pool attribute holding a player's plan limit; `custom:streams` in the ID token. */
export const LIMIT_ATTRIBUTE = 'streams';
