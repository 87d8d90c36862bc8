export function renderMigrationsModule(): string;
