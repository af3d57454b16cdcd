export { dashboardPage } from './page.js';
