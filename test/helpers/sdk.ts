// What an AWS SDK call failed with: the error name the SDK parsed and the HTTP status, for compact assertions.
export async function errorOf(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  return { name: 'no error', status: undefined };
}
