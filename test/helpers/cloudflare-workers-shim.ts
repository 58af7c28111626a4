/**
 * `cloudflare:workers` for Node unit tests: the Durable Object base class the Worker's own classes extend,
 * holding the state and env they are given, as workerd's does. Only the Node test project and the mutation
 * run (vitest.mutate.config.ts) alias it; the Worker tests run the real one in workerd.
 */
export class DurableObject<Env = unknown> {
  constructor(
    protected readonly ctx: DurableObjectState,
    protected readonly env: Env,
  ) {}
}
