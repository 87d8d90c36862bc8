/**
 * The narrow interfaces provisioning needs from the app. Nothing else of the app is imported
 * (apart from the Db port), so the module stays a leaf that runs on Node and on Workers.
 */
export interface EventEmitterPort {
  emit(type: string, summary: string, data?: object): Promise<void>;
}

export interface InboxItem {
  /** e.g. `instance_provisioned`, `instance_provision_failed`. */
  type: string;
  title: string;
  body?: string;
  urgent?: boolean;
  data?: object;
}

/** Delivers an item to every operator's inbox (the app decides who that is). */
export interface InboxNotifier {
  notify(item: InboxItem): Promise<void>;
}

export type Clock = () => Date;
export type Sleep = (ms: number) => Promise<void>;

export const noopEvents: EventEmitterPort = { emit: async () => {} };
export const noopInbox: InboxNotifier = { notify: async () => {} };
export const systemClock: Clock = () => new Date();
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));
