#!/usr/bin/env bash
echo "tools: not yet"
