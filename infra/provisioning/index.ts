export * from './errors.js';
export * from './ports.js';
export * from './config.js';
export * from './secrets.js';
export * from './health.js';
export { RailwayClient, RAILWAY_OPERATIONS, RAILWAY_DEFAULT_URL, type RailwayOperationName } from './railway.js';
export { CloudflareClient, CLOUDFLARE_DEFAULT_URL, cnameBody, type CloudflareDnsRecord } from './cloudflare.js';
export { toPublicInstance, type PublicInstance, type InstanceRow, type StepRow } from './repo.js';
export * from './service.js';
