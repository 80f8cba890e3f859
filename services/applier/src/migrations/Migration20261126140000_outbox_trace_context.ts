import { Migration } from '@mikro-orm/migrations';

/**
 * The W3C trace context (`traceparent`, optionally `tracestate`) of the applier transaction that
 * wrote an outbox row, so the relay puts it in the user-lifecycle record's headers and one trace
 * runs from the directory change to the downstream event. Null when tracing is off.
 */
export class Migration20261126140000OutboxTraceContext extends Migration {
  override name = 'Migration20261126140000_outbox_trace_context';

  override up(): void {
    this.addSql('alter table outbox add column trace_context jsonb');
  }

  override down(): void {
    this.addSql('alter table outbox drop column trace_context');
  }
}
