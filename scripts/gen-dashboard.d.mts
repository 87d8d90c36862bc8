export declare const DASHBOARD_ASSETS_FILE: string;
export declare function renderDashboardAssets(): string;
export declare function genDashboard(): string;
