/** Lambda entry for the events processor, on the table's DynamoDB stream; configuration checked at cold start. */
import { createEventBusSink } from './lib/event-bus.js';
import { lambdaEntry } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createEventsHandler } from './routes/events.js';

const runtime = runtimeFromEnv();
const busName = process.env.EVENT_BUS_NAME;
if (!busName) throw new Error('EVENT_BUS_NAME is not set');

export const handler = lambdaEntry(
  { loggers: [runtime.logger], metrics: runtime.metrics },
  createEventsHandler(runtime, createEventBusSink(busName)),
);
