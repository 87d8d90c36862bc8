export function renderPluginsModule(pluginsDir?: string): string;
