export function buildWorker(outfile?: string): Promise<string>;
