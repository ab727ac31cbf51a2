"""The UI-free core: settings, conversation, tokens, budget, pricing and the streaming client."""
