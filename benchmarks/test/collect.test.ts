import { describe, expect, it } from 'vitest';
import { startServer } from '../src/suites/collect.js';

describe('collect suites', () => {
  it("start their OpenAI-compatible test server in a child process from @distillery/black-box's Node entry", async () => {
    const server = await startServer(0);
    try {
      const response = await fetch(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'How many apples?' }] }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { choices: Array<{ message: { content: string } }> };
      expect(body.choices[0]!.message.content).toContain('The answer is (3 + 4).');
    } finally {
      await server.stop();
    }
  });
});
