/** The CDK app (`cdk.json` runs this with tsx): `npx cdk synth`, `npx cdk deploy`. */
import { buildApp } from './build.js';
import { SettingsError } from './settings.js';

try {
  buildApp().app.synth();
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(2);
}
