/**
 * Client settings for the local stand-ins of AWS services (DynamoDB Local, the API Gateway emulator). Neither checks
 * signatures, so the credentials are placeholders, not secrets; the region only has to be present.
 */
export function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: process.env.AWS_REGION ?? 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}
