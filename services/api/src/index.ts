/**
 * @dirstream/api: `dirstream serve`, the HTTP service. The public listener carries sign-in,
 * health and metrics; the admin listener carries the operator console.
 */
export { createServe, runServe, type Serve, type ServeDeps } from './serve.ts';
export type { ReadinessCheck, ServeContext } from './context.ts';
