/** The deterministic simulation of the queue (see simulation.ts): its seeds, and a seed's replay. */
import { describeSimulation } from './simulation.js';

describeSimulation('queue');
