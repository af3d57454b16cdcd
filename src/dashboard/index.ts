/** The live dashboard served by the API at `/`. */
export { DASHBOARD_ENDPOINTS, dashboardPage } from './page.js';
