"""The operation groups that make up ``MemoryService`` (see ``memsvc.service``)."""
