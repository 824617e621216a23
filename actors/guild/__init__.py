"""The guild actor: one per guild, owning its queue, player, voice call and settings."""
