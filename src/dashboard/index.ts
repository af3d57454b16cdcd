/** The live dashboard served by the API at `/`. */
export { DASHBOARD_ENDPOINTS, DASHBOARD_SCRIPT_SHA256, dashboardPage } from './page.js';
