"""The user simulator: plays the customer of a task's scenario, one turn at a time.

```python
user = make_user(UserConfig(model=ModelConfig(model="openai/gpt-4.1", temperature=0)),
                 task, pack, client=user_client)
step = await user.respond(history, seed=7)       # UserStep: record, stop, events, totals
history.append(step.record)                      # UserMessage, or UserToolCall (dual control)
if step.stop: ...                                # ###STOP### / ###TRANSFER### / ###OUT-OF-SCOPE###
```
The LLM user reads simulation guidelines (the run config's, the pack's `user_simulator`, or
ours: `guidelines.md`, plus `guidelines_tools.md` when the pack has user tools) and the
scenario, and sees the conversation with roles flipped: the agent's messages as its user turns,
never the agent's tool calls. A pack with `user_simulator.format: tau2` (every imported tau2
pack) gets tau2-bench's layout of all of it, byte for byte (`_tau2`). The scripted user says the
task's `user_scenario.script` lines in order. Unusable turns are asked again (`UserRetryEvent`);
`UserGaveUp` ends the episode as user_error, `UserModelError` as infrastructure_error.
"""

from policy_agent.user._config import UserConfig
from policy_agent.user._llm import LLMUser, visible_text
from policy_agent.user._make import UserSetupError, make_user
from policy_agent.user._prompt import (
    UserPrompt,
    default_guidelines,
    render_scenario,
    system_prompt,
    user_guidelines,
    user_prompt,
    user_view,
)
from policy_agent.user._scripted import ScriptedUser
from policy_agent.user._step import (
    STOP_TOKENS,
    StopSignal,
    UserEvent,
    UserGaveUp,
    UserModelError,
    UserSimulator,
    UserStep,
    stop_signal,
)
from policy_agent.user._tau2 import tau2_scenario, tau2_system_prompt, tau2_user_view

__all__ = [
    "STOP_TOKENS",
    "LLMUser",
    "ScriptedUser",
    "StopSignal",
    "UserConfig",
    "UserEvent",
    "UserGaveUp",
    "UserModelError",
    "UserPrompt",
    "UserSetupError",
    "UserSimulator",
    "UserStep",
    "default_guidelines",
    "make_user",
    "render_scenario",
    "stop_signal",
    "system_prompt",
    "tau2_scenario",
    "tau2_system_prompt",
    "tau2_user_view",
    "user_guidelines",
    "user_prompt",
    "user_view",
    "visible_text",
]
