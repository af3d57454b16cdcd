/** The name of an agent's own task queue: everything sent to the agent waits there, durably. */
export function agentQueueName(agentId: string): string {
  return `agent:${agentId}`;
}
