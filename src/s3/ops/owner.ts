// The owner S3 prints in listings: ferry has one account, the root credentials'.
import type { S3Context } from '../context.ts';

export function owner(ctx: S3Context): { ID: string; DisplayName: string } {
  return { ID: ctx.config.rootAccessKey, DisplayName: 'ferry' };
}
